"""Background jobs on a real task queue (Huey): records users can follow, workers that run them."""

"""The expert workbench: problem sets worked from a real problem to passing steps."""

"""A typed Python client for the ExpertLoop JSON API (httpx), standalone: it talks HTTP only."""

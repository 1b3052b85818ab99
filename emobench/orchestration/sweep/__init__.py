"""Sweeps: whole tables as job graphs (extraction -> training -> aggregation) on a launcher."""

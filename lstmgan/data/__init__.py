"""Data: the embedded procedural faces, real-data ingestion, compression and the face-video store."""

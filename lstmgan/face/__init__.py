"""Faces in real images: detection backends, the square crop rule, face tracks."""

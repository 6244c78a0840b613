"""On-disk formats passed between stages: the face-video store and video/image files."""

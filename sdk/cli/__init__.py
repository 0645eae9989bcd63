"""The edgeemo command line (click)."""

"""Engagements: programs, engagements, joining and access requests, members, timed rounds."""

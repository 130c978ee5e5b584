"""Sign-in: bearer tokens for the API and sessions for the web pages."""

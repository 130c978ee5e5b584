"""Server-rendered web pages (Jinja2, no build step)."""

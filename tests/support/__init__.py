"""Real servers for the tests: SMTP (aiosmtpd), the app over HTTP (uvicorn), databases."""

"""Guests: invitations (Graph's invitation manager) and their redemption."""

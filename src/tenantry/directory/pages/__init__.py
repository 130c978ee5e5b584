"""The admin center's directory pages: users, groups and admin roles."""

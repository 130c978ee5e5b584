"""What every web page shares: layout, admin center frame, guards, rendering, CSRF, notices.

The pages themselves live beside their domain (`signup/pages.py`, `directory/pages/`, …),
their templates in `<domain>/templates/<domain>/`.
"""

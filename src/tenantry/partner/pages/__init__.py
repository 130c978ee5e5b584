"""The partner program's web pages: enrollment, the account, the approver's link, operators."""

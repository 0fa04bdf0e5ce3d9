"""Whether each credential a stack holds still works, and when it stops working: one finding per
credential, checked against the API it is for, and one GitHub issue per credential that is about
to expire or already fails (closed again once it checks out)."""

"""Whether a rollback target can still be deployed by today's pipeline and onto today's resources."""

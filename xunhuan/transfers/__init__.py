"""Transfer documents (联单) signed by generator, carriers and receiver; audit trail."""

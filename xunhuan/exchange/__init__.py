"""By-product exchange: supply, demand, transport arcs, optimizer runs and scenarios."""

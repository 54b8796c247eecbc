"""One abstract suite per port, subclassed for each adapter."""

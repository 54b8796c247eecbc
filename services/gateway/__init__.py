"""The HTTP gateway: REST/JSON, OpenAPI and the web viewer over the six services, with no authority of its own."""

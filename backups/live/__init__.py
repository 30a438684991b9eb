"""Live updates: the progress sender, the WebSocket consumer and routing, the partial renderer."""

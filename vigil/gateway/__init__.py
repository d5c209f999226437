"""The HTTP gateway: FastAPI routes over vigil.core.serve; started by `vigil gateway`."""

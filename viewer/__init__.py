"""The execlecture viewer: a read-only FastAPI app and a static page that steps through traces."""

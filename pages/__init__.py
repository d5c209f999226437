"""Dashboard pages: each module has PAGE (a PageSpec) and render(ctx)."""

"""Serve super-resolved COGs, the original image and the training footprint on a local web map.

``create_app(ServeConfig) -> FastAPI`` builds the app; ``serve(ServeConfig)`` runs it with uvicorn.
"""

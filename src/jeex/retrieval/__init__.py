"""Embeddings, the vector store, chunking and citations: retrieval for every domain."""

"""The AI worker on Cloudflare: retrieval-augmented chat, magic-link sign-in and knowledge-base seeding."""

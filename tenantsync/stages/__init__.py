"""The pure stages of a cycle, in pipeline order: scope -> mapping -> matching -> plan -> guard."""

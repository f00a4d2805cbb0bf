"""The face engine: the pipeline (decode, detect, align, embed) and the per-agency vector indexes.

It knows nothing of cases, policies or users: services call it, and it reads only the face table
(vector_index). Each face records the recipe that made it (portal/recipes.py; the agency's `face_recipe`).
"""

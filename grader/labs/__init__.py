"""Labs: lab and rubric files and the submission manifest, loaded into typed models whose errors carry
file:line; templating, JSON Schemas, plug-in labs and the lab scaffold."""

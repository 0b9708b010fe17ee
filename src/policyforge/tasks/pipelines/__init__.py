"""The data-pipeline (FaaS) scheduling task: an event-driven simulator of Eudoxia's model, with policies."""

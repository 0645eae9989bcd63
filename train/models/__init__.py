"""Model definitions: the speech-only student and (in later modules) the multimodal teachers."""

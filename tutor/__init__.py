"""netns-tutor: an offline, hands-on course in Linux container networking."""

__version__ = "0.1.0"

//! Embedded port data (IANA registry, known malware ports).

"""The PACS layer: a real Orthanc with DICOMweb on loopback, and a DICOMweb client for it."""

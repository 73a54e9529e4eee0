"""LTI 1.3 / LTI Advantage tool (contracts.md section 4), built on pylti1p3.

OIDC login and launch validation, Deep Linking, Assignment and Grade Services (a durable passback
outbox) and Names and Role Provisioning. Its own app label ("lti") and migrations; courseapp's
services never import it (it listens to courseapp.signals.final_grade_changed).
"""

"""What belongs to no app: the database roles every unit of work acts as (rls), the embedded
PostgreSQL (embedded_db), the throttle mechanism (throttles), the staff admin's base classes
(staff_admin), the deployment checks (setup_checks). Imports Django and libraries only."""

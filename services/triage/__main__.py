from services.triage.app import service

service.run()

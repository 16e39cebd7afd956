from services.governance.app import service

service.run()

from services.skills.app import service

service.run()

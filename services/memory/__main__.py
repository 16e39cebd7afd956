from services.memory.app import service

service.run()

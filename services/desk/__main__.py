from services.desk.app import service

service.run()

from services.billing.app import service

service.run()

"""The company knowledge base on SharePoint: the pages employees are sent to for how-to questions,
on four sites (IT Help Center, HR Hub, Finance, Workplace). Written as the pages of a mid-sized
company with offices in Austin and Bengaluru would be; the seeder puts them into the SharePoint sandbox.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

TENANT = "https://acme.sharepoint.com"

#: name, display name
SITES = {
    "ITHelp": "IT Help Center",
    "HR": "HR Hub",
    "Finance": "Finance",
    "Workplace": "Workplace & Facilities",
}


@dataclass(frozen=True)
class Page:
    site: str
    name: str  # the page file, without .aspx
    title: str
    description: str
    body: str
    audience: str = "all"  # all | US | IN

    @property
    def web_url(self) -> str:
        return f"{TENANT}/sites/{self.site}/SitePages/{self.name}.aspx"


PAGES = [
    Page("ITHelp", "Connect-to-office-WiFi", "Connect to the office Wi-Fi", "Which Wi-Fi network to use in the office and how to join it on a laptop or phone.", """
There are two wireless networks in every Acme office. ACME-Corp is for company laptops and phones enrolled in device management; ACME-Guest is for visitors and personal devices and only reaches the internet.

To join ACME-Corp on a company laptop you do not need to do anything: the network profile is installed by Intune (Windows) or Jamf (Mac) and connects automatically with your device certificate. If the laptop does not connect, open the Company Portal or Self Service app and run "Sync" to reinstall the Wi-Fi profile, then restart the laptop.

To join ACME-Corp on your phone, the phone must be enrolled in Intune. Open Settings, choose ACME-Corp, and sign in with your work email and password when prompted; approve the Okta Verify push. Phones that are not enrolled cannot join ACME-Corp and should use ACME-Guest.

ACME-Guest: ask reception for the daily guest password, or scan the QR code on the meeting room screens. Guest access lasts 24 hours and is separated from the company network, so you cannot reach internal sites or printers from it.

If Wi-Fi is slow or drops in one area of the floor, note the meeting room or desk number and raise a ticket with the IT Service Desk so the network team can check the access point.
"""),
    Page("ITHelp", "Set-up-VPN-on-your-phone", "Set up the VPN on your phone", "Install and sign in to GlobalProtect VPN on an iPhone or Android phone.", """
You need the VPN on your phone only for internal sites such as the intranet dashboards or Jira on-premises; email, Teams and Slack work without it.

Install GlobalProtect from the App Store (iPhone) or Google Play (Android). If your phone is enrolled in Intune, GlobalProtect is pushed to it automatically from the Company Portal and already knows the portal address.

Open GlobalProtect and enter the portal address vpn.acme.example when asked. Sign in with your work email; you are sent to the Okta sign-in page, where you enter your password and approve the Okta Verify push.

Allow GlobalProtect to add a VPN configuration when iOS or Android asks. The key icon or "VPN" appears in the status bar while you are connected. Disconnect when you no longer need internal sites to save battery.

If the app says "Portal does not exist" check that the address is vpn.acme.example with no https:// in front. If sign-in loops back to Okta, update the app to the latest version and try again; if it still fails, raise a ticket with a screenshot.
"""),
    Page("ITHelp", "Set-up-VPN-on-your-laptop", "Connect to the VPN on your laptop", "Use GlobalProtect VPN on a Windows or Mac laptop when working outside the office.", """
GlobalProtect is installed on every company laptop. Outside the office, click the GlobalProtect globe icon in the system tray (Windows) or the menu bar (Mac) and choose Connect. The portal is vpn.acme.example.

You are asked to sign in through Okta: enter your work email and password and approve the Okta Verify push. The globe icon shows a shield when you are connected.

In the office you do not need the VPN: GlobalProtect detects the company network and stays disconnected.

If GlobalProtect shows "Gateway not responding", switch networks (for example from hotel Wi-Fi to your phone's hotspot), because some public networks block VPN traffic. If the icon is missing, reinstall GlobalProtect from Company Portal or Self Service.
"""),
    Page("ITHelp", "Enrol-in-MFA-with-Okta-Verify", "Set up multi-factor authentication (Okta Verify)", "How to enrol in MFA with Okta Verify push, and the backup methods you can add.", """
Acme requires multi-factor authentication (MFA) for every sign-in through Okta. The recommended method is Okta Verify push: a notification on your phone that you approve with one tap.

To enrol, sign in at acme.okta.com from your laptop. When asked to set up multi-factor authentication, choose Okta Verify and click Setup. Install Okta Verify on your phone from the App Store or Google Play, open it, tap Add account and scan the QR code shown on your laptop. Enable push notifications when asked.

Add a backup method in case you lose your phone: go to acme.okta.com, open your name > Settings > Security Methods and set up SMS or an authenticator app code (Google Authenticator or the six-digit code in Okta Verify).

Never approve a push you did not start. If you receive unexpected Okta Verify pushes, tap "No, it's not me" and report it as phishing to security@acme.example.
"""),
    Page("ITHelp", "Lost-or-new-phone-MFA", "Lost or replaced your phone? Move or reset Okta Verify", "What to do when your MFA phone is lost, stolen or replaced.", """
If you got a new phone and still have the old one, move Okta Verify yourself: on your laptop go to acme.okta.com > Settings > Security Methods, click Set up another next to Okta Verify, and scan the QR code with the new phone. Then remove the old device from the same page.

If your phone is lost or stolen, or you cannot sign in because you can no longer approve pushes, raise a ticket with the IT Service Desk. After we confirm your identity (we will ask for your employee ID), IT resets the lost factor. At your next sign-in Okta asks you to set up Okta Verify again on your new phone.

If the phone was stolen, also tell the service desk so the device can be wiped remotely through Intune, and change your password.

Keep a backup method such as SMS so you are not locked out next time.
"""),
    Page("ITHelp", "Reset-your-password", "Reset or change your password", "Self-service password reset in Okta, and the password rules.", """
To change a password you know, sign in at acme.okta.com, open your name > Settings > Password and choose a new one.

If you forgot your password, click "Forgot password?" on the Okta sign-in page and choose Reset via email or SMS. You need an enrolled MFA method to complete the reset.

Passwords must be at least 14 characters, must not contain your name or username, and cannot be one of your last 12 passwords. Passwords expire every 180 days; Okta reminds you 14 days before.

After 5 wrong attempts your account is locked for 30 minutes. If you are locked out and cannot wait, raise a ticket and the service desk will unlock you.
"""),
    Page("ITHelp", "Print-from-your-laptop", "Print from your laptop (follow-me printing)", "Set up printing to the office printers with PaperCut follow-me printing.", """
All office printers use PaperCut follow-me printing: you send the job to one queue and release it at any printer by tapping your badge.

On a Windows laptop the queue "Acme-FollowMe" is installed automatically. On a Mac open System Settings > Printers & Scanners, click Add Printer, and choose Acme-FollowMe (it appears when you are on ACME-Corp Wi-Fi or the VPN).

Print as usual, then walk to any printer, tap your badge on the reader and choose Release. Jobs not released within 24 hours are deleted. Colour and double-sided printing are set at the printer before release.

The first time you tap your badge the printer asks you to link it: sign in with your work email and password on the printer screen.
"""),
    Page("ITHelp", "Printer-problems", "Printer not working? Paper jams, offline printers and stuck jobs", "Fix common printer problems before raising a ticket.", """
If a printer shows "Offline" or your job does not appear when you tap your badge, check that you are on ACME-Corp Wi-Fi or the VPN and print again; jobs sent from ACME-Guest never reach the print server.

Paper jam: open the doors shown on the printer screen and follow the animation; pull paper out in the direction of the paper path. Do not use tools. If the jam message stays after the paper is removed, switch the printer off and on.

Out of toner or paper: toner and paper are in the supply cabinet next to each printer. Facilities restocks the cabinets every Monday.

If the printer is broken (error code on screen, grinding noise, streaks on every page), put the "Out of order" sign on it and raise a ticket with the printer's asset tag, found on the front panel.
"""),
    Page("ITHelp", "Request-software", "Install or request software", "Install approved apps from Company Portal or Self Service, and request others.", """
Approved software installs without a ticket: open Company Portal (Windows) or Self Service (Mac), search for the app and click Install. This includes Zoom, Slack, Visual Studio Code, Adobe Acrobat Reader, 7-Zip, Python and the JetBrains Toolbox.

Software that needs a paid licence (for example Adobe Creative Cloud, Tableau Desktop, Figma) is requested through the IT Service Desk and approved by your manager. Licences are assigned to you and the app appears in Company Portal or is enabled in Okta within a day of approval.

You cannot install software outside these catalogs because laptops do not give administrator rights. If a tool you need is not listed, raise a software request with the name, a link and what you need it for; security reviews new software within 5 business days.
"""),
    Page("ITHelp", "Email-on-your-phone", "Set up work email and Teams on your phone", "Use Outlook and Teams on a personal or company phone with Intune.", """
Work email, calendar and Teams are available on your phone through the Outlook and Microsoft Teams apps only; the built-in Mail app on iPhone or Android is blocked.

Install Intune Company Portal, sign in with your work email and follow the steps to register the phone. Then install Outlook and Teams from the App Store or Google Play and sign in with your work email; approve the Okta Verify push.

On a personal phone, Intune only manages the work apps: IT cannot see your personal photos, messages or browsing. If the phone is lost, IT can wipe the work data without touching personal data.
"""),
    Page("ITHelp", "Share-files-externally", "Share files with people outside Acme", "Share OneDrive or SharePoint files with customers and partners safely.", """
Share with external people from OneDrive or SharePoint, not by email attachment. Select the file, click Share, choose "Specific people" and enter the partner's email address. They receive a link and a one-time code to open the file.

"Anyone with the link" sharing is turned off for company data. Links to external people expire after 30 days; you can renew them from Manage access.

Do not share documents labelled Confidential or Restricted externally without your manager's approval. Customer personal data is shared only through the secure data room; ask the legal team for access.
"""),
    Page("ITHelp", "Report-phishing", "Report a phishing email", "How to recognise and report suspicious emails.", """
If an email asks you to sign in, pay an invoice, buy gift cards or open an unexpected attachment, treat it as suspicious, especially when the sender's address does not match the name shown.

In Outlook click Report > Phishing (the Report button in the ribbon or the three-dot menu on the phone). The message is sent to the security team and removed from your inbox.

If you already clicked a link or entered your password, change your password immediately at acme.okta.com and tell security@acme.example or the IT Service Desk. Reporting quickly is what matters; nobody is blamed for clicking.
"""),
    Page("ITHelp", "BitLocker-FileVault-recovery-key", "Recovery key for an encrypted laptop (BitLocker or FileVault)", "What to do when your laptop asks for a BitLocker or FileVault recovery key.", """
All company laptops are encrypted with BitLocker (Windows) or FileVault (Mac). After some firmware updates or hardware changes the laptop asks for a recovery key before starting.

Raise a ticket from another device or call the IT Service Desk with the laptop's serial number or hostname. After verifying your identity, the service desk reads the key to you from Intune or Jamf. Type it exactly; the 48-digit BitLocker key is grouped in blocks of six.

Never write the recovery key on the laptop or store it in a shared document. A new key is generated after it has been used.
"""),
    Page("ITHelp", "Meeting-room-AV", "Use the meeting room screens and Zoom Rooms", "Start or join a meeting from a meeting room with Zoom Rooms or share your screen.", """
Every meeting room has a Zoom Rooms controller on the table. Meetings booked in the room's Outlook calendar appear on the controller: tap Start to join.

To share your laptop screen without a meeting, tap Share Screen on the controller and enter the sharing key shown on the TV into the Zoom app, or connect the HDMI cable on the table.

If the screen stays black, check that the TV is on the HDMI 1 input and that the controller is not in sleep mode. Report broken equipment with the room name in a ticket.
"""),
    Page("ITHelp", "Shared-mailboxes-and-distribution-lists", "Shared mailboxes and distribution lists", "Request access to a shared mailbox or to be added to a distribution list.", """
Shared mailboxes (for example finance-ap@acme.example) are owned by a team lead. Request access in a ticket naming the mailbox; the owner approves and the mailbox appears in Outlook within an hour.

Distribution lists are managed in Outlook: open the list in the address book and click Join if the list is open, or ask the owner shown there. Lists for whole departments are updated automatically from Workday.

To create a new shared mailbox or distribution list, raise a ticket with its name, owner and members.
"""),
    Page("Workplace", "Home-office-equipment", "Equipment for working from home", "What equipment you can get for your home office and how to order it.", """
Every employee can order one monitor, a keyboard, a mouse and a headset for their home office through the IT Service Desk. Items are shipped to your home address from Workday.

Docking stations and a second monitor need your manager's approval. Chairs and desks are covered by the home office allowance: up to USD 300 in the US and INR 15,000 in India, claimed as an expense with the receipt.

Equipment remains company property and is returned when you leave.
"""),
    Page("HR", "Leave-policy-US", "Leave policy - United States", "Paid time off, sick leave and holidays for employees in the United States.", """
Employees in the United States receive paid time off (PTO) for vacation and personal days. PTO accrues every pay period: 15 days (120 hours) a year in the first three years of service and 20 days (160 hours) from the fourth year. You can carry over up to 40 hours into the next year; hours above that are lost on January 1.

Sick leave is separate from PTO: 6 days (48 hours) a year, available from your first day, for your own illness or to care for a family member. Where state law gives more (for example California or New York), the state rules apply.

Acme observes 10 paid company holidays in the US: New Year's Day, Martin Luther King Jr. Day, Presidents' Day, Memorial Day, Juneteenth, Independence Day, Labor Day, Thanksgiving and the day after, and Christmas Day.

Request time off in Workday at least two weeks ahead for vacations of more than three days; your manager approves it. Unused PTO is paid out when you leave where state law requires it.
""", "US"),
    Page("HR", "Leave-policy-India", "Leave policy - India", "Earned leave, casual leave, sick leave and holidays for employees in India.", """
Employees in India receive 18 days of Earned Leave (privilege leave) a year, credited monthly at 1.5 days. Up to 30 days of Earned Leave can be carried forward; the balance above that lapses on January 1. Earned Leave is encashed at the basic salary when you leave.

Casual Leave: 8 days a year for short personal needs, taken for at most 3 days at a time. Casual Leave cannot be carried forward or encashed.

Sick Leave: 8 days a year. A medical certificate is needed for sick leave of more than 2 consecutive days.

Acme observes 12 public holidays in India, including Republic Day, Independence Day, Gandhi Jayanti and Diwali, plus regional holidays listed for the Bengaluru office each January.

Apply for leave in Workday; your manager approves it. Earned Leave of more than 5 days should be applied for two weeks in advance.
""", "IN"),
    Page("HR", "Parental-leave", "Parental leave", "Maternity, paternity and adoption leave in the US and India.", """
In the United States, birthing parents receive 16 weeks of fully paid parental leave and non-birthing parents 8 weeks, including adoption and foster placement. Leave can be taken within 12 months of the birth or placement, in up to two blocks.

In India, maternity leave is 26 weeks of fully paid leave as provided by the Maternity Benefit Act, and paternity leave is 4 weeks, to be taken within 6 months of the birth or adoption.

Tell your manager and HR at least 8 weeks before the expected date and record the leave in Workday under Parental Leave. Benefits continue during the leave.
"""),
    Page("HR", "Request-time-off-in-Workday", "How to request time off in Workday", "Step by step: request, change or cancel time off in Workday.", """
Open Workday and click the Absence app, then Request Absence. Select the days on the calendar, click Request Absence again, choose the type (Vacation or Sick in the US; Earned, Casual or Sick Leave in India) and submit.

The request goes to your manager for approval and shows as Submitted until they act. You receive a Workday notification when it is approved or denied.

To change or cancel a request, open Absence > My Absence, find the request and choose Correct or Cancel. Approved time off in the past can only be corrected by HR.

Your balance is shown in Absence > Time Off Balance and includes time requested but not yet taken.
"""),
    Page("HR", "Payslips-and-tax-documents", "Payslips and tax documents", "Where to find your payslips, W-2 or Form 16, and how to update tax withholding.", """
Payslips are in Workday under Pay > Payslips from the payday onwards. US employees are paid semi-monthly on the 15th and last day of the month; employees in India are paid monthly on the last working day.

US employees find their W-2 in Workday under Pay > Tax Documents by January 31 each year. To change your federal withholding, update your W-4 under Pay > Withholding Elections.

Employees in India receive Form 16 by June 15 for the previous financial year. Submit investment declarations for tax savings in Workday by the deadline announced each April, and proofs in January.
"""),
    Page("HR", "Benefits-enrollment-US", "Benefits enrollment (US)", "Medical, dental and vision plans, and when you can enrol or change them.", """
New employees in the US enrol in benefits within 30 days of their start date in Workday under Benefits > Enroll. Coverage starts on your first day.

You can choose between two medical plans (a PPO and a high-deductible plan with a health savings account), dental and vision plans, and add your spouse, domestic partner or children.

Outside the first 30 days you can change plans only during open enrollment in November, or within 30 days of a qualifying life event such as marriage, birth or adoption.

The 401(k) plan is open from day one with a company match of 100% of the first 4% of salary you contribute.
""", "US"),
    Page("HR", "Employee-referral-program", "Employee referral program", "Refer a candidate and earn a referral bonus.", """
Refer candidates through Greenhouse: open the job, click Refer a Candidate and attach the resume. Tell the candidate to expect contact from the recruiting team.

If your referral is hired and stays for 90 days, you receive a bonus of USD 2,000 in the US or INR 75,000 in India, paid with your next payroll. Referrals for engineering roles earn 1.5 times the bonus.

Hiring managers and recruiters are not eligible for referrals into their own roles.
"""),
    Page("HR", "New-hire-first-week", "Your first week at Acme", "What happens on a new hire's first day and week.", """
On your first day your laptop is ready at the office reception or was shipped to your home. Sign in with the temporary credentials sent to your personal email, then set your password and enrol in Okta Verify.

Your manager shares a 30-60-90 day plan. During the first week complete the required trainings in Workday Learning: security awareness, code of conduct and data privacy.

Collect your building badge from reception with a photo ID; it opens the lobby and your team's floor. Ask your manager to request access to any other floor.
"""),
    Page("Finance", "Expense-policy", "Expense policy", "What you can claim, the limits, receipts, and how to submit expenses in Workday.", """
Submit business expenses in Workday under Expenses > Create Expense Report within 30 days of the expense. Attach a receipt for every item above USD 25 (US) or INR 1,000 (India); a photo taken with the Workday app is enough.

Meals while travelling are reimbursed up to USD 75 a day in the US and INR 3,000 a day in India. Client dinners need the names of the attendees and the business purpose. Alcohol is reimbursed only at client events.

Book flights and hotels through Navan so the travel policy applies automatically. Economy class is the standard for flights under 6 hours.

Reports are approved by your manager and then by Finance. Approved expenses are paid with the next payroll in India, or by direct deposit within 5 business days in the US.

Not reimbursed: personal items, fines, upgrades you chose, and expenses more than 90 days old.
"""),
    Page("Finance", "Corporate-card", "Corporate card", "Who gets a corporate card, how to use it and how to reconcile it.", """
Employees who travel or buy for their team more than once a month can request a corporate card in a ticket with their manager's approval. The card is issued by the bank within 10 business days.

Use the card only for business expenses. Card transactions appear in Workday Expenses within two days; add the receipt and business purpose to each within 30 days.

Report a lost or stolen card to the bank immediately by phone, then tell Finance at finance-ap@acme.example.
"""),
    Page("Finance", "Purchase-requests", "Buying software, hardware and services", "How to request a purchase and who approves it.", """
Purchases of software, subscriptions, hardware and services go through a purchase request, not a personal card. Raise a purchase request with the vendor, the cost, the cost centre and the business reason.

Requests up to USD 5,000 are approved by your manager; above that Finance approves as well, and above USD 50,000 the CFO. Software also passes a security review.

Procurement places the order and you are notified when it is delivered. Renewals are raised by procurement 60 days before the end of a contract.
"""),
    Page("Workplace", "Building-access-and-badges", "Building access and badges", "Badges, which floors they open, and what to do when a badge is lost or does not work.", """
Your badge opens the lobby and the floor your team works on. To open another floor or the parking garage, ask your manager to request it through the IT Service Desk; access is usually active within one working day.

If your badge stops working, it may be suspended or the reader may have a fault: try another door on the same floor and note which door failed, then raise a ticket.

Report a lost badge straight away so it can be suspended; collect a replacement from reception with a photo ID. The server room and the hardware lab are restricted and need security clearance.

Badges are personal: do not lend yours or hold doors open for people you do not know.
"""),
    Page("Workplace", "Office-locations-and-parking", "Offices and parking", "Office addresses, opening hours and parking in Austin and Bengaluru.", """
Austin HQ: 500 Congress Avenue, Austin, Texas. Open 7:00 to 20:00 on working days. Parking is in the garage under the building for badge holders with parking access; visitors use the public garage on 6th Street.

Bengaluru office: Embassy Tech Village, Outer Ring Road, Bengaluru. Open 8:00 to 21:00 on working days. Two-wheeler and car parking are in basement 2; register your vehicle with facilities.

Book desks in the office with the Workplace app. Visitors are registered at reception by their host the day before.
"""),
]


def page_id(page: Page) -> str:
    return hashlib.sha256(f"sp-page:{page.site}:{page.name}".encode()).hexdigest()[:32]


def site_id(name: str) -> str:
    return f"acme.sharepoint.com,{hashlib.sha256(f'sp-site:{name}'.encode()).hexdigest()[:32]},{hashlib.sha256(f'sp-web:{name}'.encode()).hexdigest()[:32]}"


async def seed_sharepoint(conn: asyncpg.Connection, count: int = 300) -> int:  # noqa: ARG001 - pages do not depend on the org's size
    """The knowledge base's sites and pages; return how many rows were added."""
    now = datetime.now(UTC)
    result = await conn.execute(
        "INSERT INTO sharepoint_sites (id, name, display_name, web_url) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING",
        [site_id(n) for n in SITES], list(SITES), list(SITES.values()), [f"{TENANT}/sites/{n}" for n in SITES],
    )
    added = int(result.split()[-1])
    rows = [
        (page_id(p), site_id(p.site), f"{p.name}.aspx", p.title, p.description, p.body.strip(), p.audience, p.web_url, "it-knowledge@acme.example" if p.site == "ITHelp" else f"{p.site.lower()}-team@acme.example", now - timedelta(days=7 + 11 * i))
        for i, p in enumerate(PAGES)
    ]
    result = await conn.execute(
        "INSERT INTO sharepoint_pages (id, site_id, name, title, description, body, audience, web_url, created_by, last_modified_date_time)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*rows, strict=True)),
    )
    return added + int(result.split()[-1])

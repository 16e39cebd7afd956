/*
 * ServiceNow -> Workforce: posts an incident to the service-desk connector's webhook
 * (POST https://<desk>/webhooks/servicenow), in the JSON documented in
 * services/desk/intake/servicenow.py.
 *
 * Install: System Definition > Business Rules > New
 *   Table: Incident [incident]; When: async (after the transaction, so the user never waits on us);
 *   Insert: yes; Update: yes; Advanced: yes
 *   Condition: current.operation() == 'insert' || current.comments.changes()
 * and paste this script. Set two system properties (sys_properties):
 *   x_workforce.desk_url     https://<desk>/webhooks/servicenow
 *   x_workforce.desk_secret  the shared secret (type: password2), the same value as the desk's
 *                            DESK_SERVICENOW_WEBHOOK_SECRET
 * With webhook mode "basic" instead, give the REST message a Basic auth profile and drop the
 * signature header.
 *
 * The body is signed with HMAC-SHA256 (base64, from GlideCertificateEncryption.generateMac) in
 * X-Workforce-Signature; X-Workforce-Delivery names this change of this record, so the desk
 * recognises ServiceNow's or an administrator's resend of it. Comments by the desk's own
 * integration user are sent too: the desk recognises and skips them.
 */
(function executeRule(current, previous /* null when async */) {
    var operation = current.operation() == 'insert' ? 'insert' : 'update';
    var comment = operation == 'update' ? current.comments.getJournalEntry(1) : '';
    // getJournalEntry(1) is "<date> - <user> (Additional comments)\n<text>": keep the text only.
    if (comment) {
        comment = comment.substring(comment.indexOf('\n') + 1).trim();
    }
    var caller = current.caller_id.getRefRecord();
    var updater = new GlideRecord('sys_user');
    var updaterEmail = updater.get('user_name', current.getValue('sys_updated_by')) ? updater.getValue('email') : '';

    var body = JSON.stringify({
        operation: operation,
        table: 'incident',
        sys_id: current.getUniqueValue(),
        number: current.getValue('number'),
        short_description: current.getValue('short_description') || '',
        description: current.getValue('description') || '',
        caller_id: current.getValue('caller_id') || '',
        caller_email: caller.isValidRecord() ? (caller.getValue('email') || '') : '',
        caller_name: caller.isValidRecord() ? (caller.getValue('name') || '') : '',
        urgency: current.getValue('urgency') || '',
        impact: current.getValue('impact') || '',
        priority: current.getValue('priority') || '',
        category: current.getValue('category') || '',
        assignment_group: current.assignment_group.getDisplayValue() || '',
        state: current.getValue('state') || '',
        contact_type: current.getValue('contact_type') || '',
        comments: comment || '',
        sys_updated_by: current.getValue('sys_updated_by') || '',
        updated_by_email: updaterEmail || '',
        sys_mod_count: current.getValue('sys_mod_count') || '0',
        sys_created_on: current.getValue('sys_created_on') || ''   // UTC, "yyyy-MM-dd HH:mm:ss"
    });

    var secret = gs.getProperty('x_workforce.desk_secret');
    var signature = new GlideCertificateEncryption().generateMac(GlideStringUtil.base64Encode(secret), 'HmacSHA256', body);

    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(gs.getProperty('x_workforce.desk_url'));
    request.setHttpMethod('POST');
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestHeader('X-Workforce-Signature', signature);
    request.setRequestHeader('X-Workforce-Delivery', current.getUniqueValue() + ':' + current.getValue('sys_mod_count'));
    request.setRequestBody(body);
    request.setHttpTimeout(10000);
    var response = request.execute();
    var status = response.getStatusCode();
    // 200 duplicate/skipped and 202 published are done. 503 (our broker briefly down) asks for a
    // resend with the same X-Workforce-Delivery; 4xx will not get better by resending.
    if (status < 200 || status >= 300) {
        gs.warn('Workforce desk webhook for ' + current.getValue('number') + ' answered ' + status + ': ' + response.getBody());
    }
})(current, previous);

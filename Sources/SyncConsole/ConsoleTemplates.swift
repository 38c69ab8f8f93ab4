import Mustache

/// The console's pages as Mustache templates (swift-mustache): `{{x}}` escapes HTML, so a
/// customer named `<script>` is shown as text; `{{{body}}}` only ever holds a page these
/// templates rendered, and `{{{chart}}}` the SVG `SyncChart` drew from numbers.
enum ConsoleTemplates {
    static let library: MustacheLibrary = {
        var l = MustacheLibrary()
        for (name, text) in [("layout", layout), ("login", login), ("overview", overview), ("store", store), ("record", record),
                             ("confirm", confirm), ("message", message)] {
            try! l.register(text, named: name)
        }
        return l
    }()

    static let css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f23;background:#f6f7f9;font-size:15px}
        header{background:#1f3a5f;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
        header a{color:#fff;text-decoration:none;font-weight:600}header .who{margin-left:auto;font-size:14px}
        header form{display:inline}header button{background:#fff;color:#1f3a5f;border:0;padding:4px 10px;border-radius:4px;cursor:pointer}
        main{padding:14px 18px;max-width:1400px}h1{font-size:21px;margin:6px 0 12px}h2{font-size:17px;margin:20px 0 8px}
        .scroll{overflow-x:auto;background:#fff;border:1px solid #d9dde3;border-radius:6px}
        table{border-collapse:collapse;width:100%;font-size:14px}th,td{padding:6px 8px;border-bottom:1px solid #eceff3;text-align:left;white-space:nowrap}
        th{background:#eef1f5;font-weight:600;white-space:normal;vertical-align:bottom;font-size:13px}td.num{text-align:right;font-variant-numeric:tabular-nums}td.err{white-space:normal;min-width:160px;max-width:320px;color:#8a1c1c;font-size:13px}
        .state{display:inline-block;padding:2px 8px;border-radius:10px;font-size:13px;font-weight:600}
        .not-seen{background:#fde2e1;color:#8a1c1c}.behind{background:#fff1cc;color:#6b4e00}.revoked{background:#e4e4e7;color:#3f3f46}.in-sync{background:#dcf5e3;color:#14532d}
        ul.items{list-style:none;padding:0;margin:0;background:#fff;border:1px solid #d9dde3;border-radius:6px}
        ul.items li{padding:8px 10px;border-bottom:1px solid #eceff3}ul.items .kind{font-size:12px;color:#555;text-transform:uppercase;margin-right:6px}
        .detail{color:#555;font-size:13px}.actions form{display:inline-block;margin:4px 8px 4px 0}
        .actions a,.button{display:inline-block;background:#1f3a5f;color:#fff;padding:6px 12px;border-radius:4px;text-decoration:none;border:0;font-size:14px;cursor:pointer}
        .danger{background:#a61b1b}.box{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:12px;margin:10px 0}
        .token{font-family:ui-monospace,monospace;background:#fffbe6;padding:8px;border:1px solid #e6d98c;word-break:break-all}
        label{display:block;margin:8px 0 4px}input[type=text],input[type=password],input[type=number]{padding:7px;width:260px;max-width:100%}
        .login{max-width:360px;margin:60px auto;background:#fff;padding:20px;border:1px solid #d9dde3;border-radius:6px}
        .error{color:#8a1c1c;font-weight:600}dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px}dt{font-weight:600}
        svg{background:#fff;border:1px solid #d9dde3;border-radius:6px;max-width:100%;height:auto}
        @media (max-width:800px){body{font-size:14px}main{padding:10px}}
        """

    static let layout = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · POS hub console</title><link rel="stylesheet" href="/console/console.css"></head>
        <body>{{#signedIn}}<header><a href="/console">POS hub console</a><a href="/console">Stores</a><a href="/console#attention">Needs a person</a><a href="/console/audit">Audit</a>
        <span class="who">{{operatorName}} ({{role}})</span>
        <form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="logout">Log out</button></form></header>{{/signedIn}}
        <main>{{{body}}}</main></body></html>
        """

    static let login = """
        <div class="login"><h1>POS hub console</h1>
        {{#error}}<p class="error" id="login-error">{{error}}</p>{{/error}}
        <form method="post" action="/console/login">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="name">Name</label><input type="text" id="name" name="name" autocomplete="username" value="{{name}}">
        <label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password">
        <p><button class="button" type="submit" id="login">Log in</button></p></form></div>
        """

    static let overview = """
        <h1>Stores <span class="detail">(times UTC) ({{count}}; {{notSeen}} not seen for more than {{notSeenAfter}}, {{behind}} behind, {{revoked}} revoked, {{inSync}} in sync)</span></h1>
        <div class="scroll"><table id="stores"><thead><tr><th>Store</th><th>Site</th><th>Region</th><th>State</th><th>Last push</th><th>Last pull</th>
        <th title="Journal entries the store reported still to send">Waiting at store</th><th title="Feed positions the store has not pulled yet">Waiting at hub</th><th>Clock offset</th><th>Refused</th><th>Last error</th></tr></thead><tbody>
        {{#stores}}<tr data-node="{{node}}" data-state="{{state}}"><td><a href="/console/stores/{{node}}">{{node}}</a></td><td>{{site}}</td><td>{{region}}</td>
        <td><span class="state {{state}}">{{stateLabel}}</span></td><td>{{lastPush}}</td><td>{{lastPull}}</td>
        <td class="num pending">{{pending}}</td><td class="num waiting">{{waiting}}</td><td class="num">{{clockOffset}}</td><td class="num">{{refused}}</td>
        <td class="err">{{lastError}}</td></tr>{{/stores}}
        </tbody></table></div>
        <h2 id="attention">Needs a person ({{attentionCount}})</h2>
        {{#accounting}}<div class="box" id="accounting">Accounting connector: {{accounting}}</div>{{/accounting}}
        <ul class="items" id="attention-list">{{#attention}}<li data-kind="{{kind}}"><span class="kind">{{kind}}</span><a href="{{link}}">{{title}}</a>
        <div class="detail">{{detail}} {{at}}</div></li>{{/attention}}{{^attention}}<li>Nothing needs a person.</li>{{/attention}}</ul>
        """

    static let store = """
        <h1>Store {{node}} <span class="state {{state}}">{{stateLabel}}</span></h1>
        <dl><dt>Site</dt><dd>{{site}}</dd><dt>Region</dt><dd>{{region}}</dd><dt>Last push</dt><dd>{{lastPush}}</dd><dt>Last pull</dt><dd>{{lastPull}}</dd>
        <dt>Entries waiting at the store</dt><dd id="pending">{{pending}}</dd><dt>Changes waiting at the hub</dt><dd id="waiting">{{waiting}}</dd>
        <dt>Clock offset</dt><dd>{{clockOffset}}</dd><dt>Refused entries</dt><dd>{{refused}}</dd><dt>Last error</dt><dd>{{lastError}}</dd>
        <dt>What its region sends it</dt><dd>{{regionText}}</dd>{{#rebaseline}}<dt>Re-baseline</dt><dd>asked; at its next round</dd>{{/rebaseline}}</dl>
        {{#canAct}}<div class="actions" id="actions">
        {{#canRevoke}}<a class="danger" id="revoke" href="/console/confirm?action=revoke&amp;target={{node}}">Revoke token</a>{{/canRevoke}}
        <a id="rotate" href="/console/confirm?action=rotate&amp;target={{node}}">Rotate token</a>
        <a id="rebaseline" href="/console/confirm?action=rebaseline&amp;target={{node}}">Re-baseline its pull</a></div>{{/canAct}}
        <h2>Sync rounds, last 24 hours</h2>{{{chart}}}
        <h2>Refusals and renames</h2><ul class="items">{{#events}}<li><span class="kind">{{kind}}</span>{{at}} {{key}}<div class="detail">{{reason}}</div></li>{{/events}}{{^events}}<li>None.</li>{{/events}}</ul>
        """

    static let record = """
        <h1>{{title}}</h1>{{#missing}}<p class="error">{{missing}}</p>{{/missing}}
        <dl>{{#fields}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/fields}}</dl>
        {{#canAct}}<div class="actions">{{#actions}}<a class="{{style}}" id="{{id}}" href="{{href}}">{{label}}</a>{{/actions}}</div>{{/canAct}}
        {{#related}}<h2>{{heading}}</h2><ul class="items">{{#items}}<li>{{.}}</li>{{/items}}</ul>{{/related}}
        """

    static let confirm = """
        <h1>{{question}}</h1><p>{{explanation}}</p>
        <form method="post" action="/console/actions/{{action}}" class="box">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="target" value="{{target}}">
        {{#needsReason}}<label for="reason">Reason</label><input type="text" id="reason" name="reason" required>{{/needsReason}}
        {{#needsMonths}}<label for="months">Months (1 or 2)</label><input type="number" id="months" name="months" min="1" max="2" value="2">{{/needsMonths}}
        <p><button class="button danger" type="submit" id="confirm">{{button}}</button> <a href="{{back}}">Cancel</a></p></form>
        """

    static let message = """
        <h1>{{title}}</h1>{{#text}}<p id="message">{{text}}</p>{{/text}}{{#token}}<p>The new token, shown once (only its hash is kept):</p>
        <p class="token" id="new-token">{{token}}</p>{{/token}}<p><a href="{{back}}">Back</a></p>
        """
}

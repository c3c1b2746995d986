//! `require` of the libraries upstream bundles, by bare name.

use serde_json::json;

use crate::app::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_libraries_work() {
    let app = App::new(
        r#"
var _ = require('lodash'), uuid = require('uuid'), z = require('zod').z, dayjs = require('dayjs');
var validator = require('validator'), marked = require('marked').marked, cheerio = require('cheerio');
var id = uuid.v4();
({
  lodash: _.chunk([1, 2, 3], 2),
  uuid: uuid.validate(id) && uuid.version(id) === 4,
  zod: [z.object({n: z.number()}).safeParse({n: 1}).success, z.string().safeParse(5).success],
  dayjs: dayjs('2024-01-31').add(1, 'day').format('YYYY-MM-DD'),
  validator: [validator.isEmail('a@b.co'), validator.isEmail('nope')],
  marked: marked.parse('# Hi').trim(),
  cheerio: cheerio.load('<ul><li>a</li><li>b</li></ul>')('li').length,
  same: require('lodash') === _
})
"#,
    )
    .await;
    assert_eq!(
        app.json("/api/x").await,
        json!({
            "lodash": [[1, 2], [3]], "uuid": true, "zod": [true, false], "dayjs": "2024-02-01",
            "validator": [true, false], "marked": "<h1>Hi</h1>", "cheerio": 2, "same": true
        })
    );
}

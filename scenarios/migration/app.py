"""The profile app of the static-keys-to-IRSA walk-throughs, as they write it.

Flask and boto3: boto3.client('s3') with no arguments, and a page per user
whose profile image is a presigned get_object link, served on port 8000.
The app names no credentials, region or signature version: they come from
the environment, as in the walk-throughs (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY from a Secret before the migration, the IRSA
webhook's AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE after it; an
AWS_CONFIG_FILE may set s3's signature_version). PROFILE_BUCKET names the
bucket, each user's image is profiles/USER.png in it; PORT (default 8000)
is for tests that run it on a host.
"""

import os

import boto3
from flask import Flask, render_template_string

app = Flask(__name__)
s3 = boto3.client('s3')
BUCKET = os.environ['PROFILE_BUCKET']

PAGE = """<!doctype html>
<html><head><title>{{ user }}</title></head>
<body><h1>{{ user }}</h1><img src="{{ url }}" alt="profile image of {{ user }}"></body></html>
"""


@app.route('/')
def index():
    return 'profile app\n'


@app.route('/profile/<user>')
def profile(user):
    url = s3.generate_presigned_url('get_object', Params={'Bucket': BUCKET, 'Key': 'profiles/%s.png' % user},
                                    ExpiresIn=3600)
    return render_template_string(PAGE, user=user, url=url)


if __name__ == '__main__':
    app.run(host='0.0.0.0', port=int(os.environ.get('PORT', '8000')))

// The webhook secret of the local stack: fixed so that `npm start` and `npm run send-sample-webhook` agree.
// For local development only; production secrets come from Secret Manager through WEBHOOK_SECRETS.
export const LOCAL_WEBHOOK_SECRET = `whsec_${Buffer.from('classroom-gateway local development secret').toString('base64')}`;

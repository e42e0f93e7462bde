// The issuer's releases. The upload through presigned URLs needs the API's releases
// endpoints (POST /v1/releases…); until they exist this screen says so.

import type { Route } from "../../lib/route";
import { PageTitle } from "../../app/ui";

export function Releases({ route }: { route: Route }) {
  return (
    <>
      <PageTitle>{route.name === "upload" ? "Upload a study" : "Releases"}</PageTitle>
      <p className="note info" role="status">
        Releasing a study from the browser needs the API's release endpoints, which this server does not offer yet.
        Export from your PACS to the inbox, or use <code>medimint release</code>.
      </p>
    </>
  );
}

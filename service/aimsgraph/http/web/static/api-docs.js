// The REST API page (/api/docs): Swagger UI over the document the page names. A file of its own,
// as the pages' policy runs no inline script.
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.dataset.document,
    domNode: element,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    defaultModelsExpandDepth: -1, // the schemas show under each operation; no list of them all
    // nothing is fetched from elsewhere: no validator badge (it asks validator.swagger.io)
    validatorUrl: null,
  });
})();

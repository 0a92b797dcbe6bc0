/* Swagger UI for /api/docs: the document's address comes from the page, and nothing is
   fetched from any other host (the Content-Security-Policy would refuse it anyway). */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    // Without this Swagger UI fetches a validity badge from validator.swagger.io.
    validatorUrl: null,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();

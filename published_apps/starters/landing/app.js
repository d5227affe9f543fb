"use strict";

const form = document.getElementById("signup-form");
const message = document.getElementById("signup-message");

function thankYou(email) {
  return `Thanks! We'll write to ${email} when Aurora is ready.`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const email = form.elements.email.value.trim();
  message.textContent = thankYou(email);
  form.reset();
});
